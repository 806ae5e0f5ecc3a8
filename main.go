package main

import (
	"context"
	"flag"
	"log"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"

	"github.com/rayvllm/terraform-provider-rayvllm/internal/provider"
)

// Run "make docs" to regenerate docs/ from templates/ and examples/.

// version is set by goreleaser.
var version = "dev"

func main() {
	var debug bool
	flag.BoolVar(&debug, "debug", false, "run the provider with support for debuggers like delve")
	flag.Parse()

	err := providerserver.Serve(context.Background(), provider.New(version), providerserver.ServeOpts{
		Address: "registry.terraform.io/rayvllm/rayvllm",
		Debug:   debug,
	})
	if err != nil {
		log.Fatal(err.Error())
	}
}
