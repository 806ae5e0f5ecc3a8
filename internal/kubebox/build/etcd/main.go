// Command etcd is etcd's own main (etcdmain), built from the module proxy
// for internal/kubebox.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
