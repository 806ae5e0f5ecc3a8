package kubebox

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/rayvllm/terraform-provider-rayvllm/internal/ec2box"
)

// ownerDir holds one file per runtime: its run ID, naming the test process
// (PID and start time) that owns the run's namespaces and links.
const ownerDir = "/run/kubebox"

func writeOwner(run string) error {
	if err := os.MkdirAll(ownerDir, 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(ownerDir, run), []byte(fmt.Sprintf("%d %s\n", os.Getpid(), ec2box.ProcessStart(os.Getpid()))), 0o600)
}

// Sweep removes what runtimes of crashed or killed test processes left: pod
// namespaces (with their processes), links, /etc/netns entries. Runs whose
// process still lives are left alone. A new runtime sweeps first.
func Sweep() error {
	entries, _ := os.ReadDir(ownerDir)
	var errs []error
	for _, e := range entries {
		run := e.Name()
		data, _ := os.ReadFile(filepath.Join(ownerDir, run)) // #nosec G304 -- the box's own owner files
		f := strings.Fields(string(data))
		if len(f) == 2 {
			if pid, err := strconv.Atoi(f[0]); err == nil && ec2box.ProcessStart(pid) == f[1] {
				continue
			}
		}
		nsPrefix := runtimePrefix + "-" + run + "-"
		nss, _ := os.ReadDir("/run/netns")
		for _, ns := range nss {
			if strings.HasPrefix(ns.Name(), nsPrefix) {
				errs = append(errs, ec2box.RemoveNamespace(ns.Name(), "", 2*time.Second), os.RemoveAll(filepath.Join("/etc/netns", ns.Name())))
			}
		}
		ifs, _ := net.Interfaces()
		for _, i := range ifs {
			if strings.HasPrefix(i.Name, runtimePrefix+run) {
				errs = append(errs, delLink(i.Name))
			}
		}
		errs = append(errs, os.Remove(filepath.Join(ownerDir, run)))
	}
	return errors.Join(errs...)
}

// delLink deletes a link unless it is already gone: deleting a namespace
// takes its veth pair with it, a moment later.
func delLink(name string) error {
	err := ec2box.IP("link", "del", name)
	if _, lookupErr := net.InterfaceByName(name); lookupErr != nil {
		return nil //nolint:nilerr // the link is gone, which is what deleting it was for
	}
	return err
}
