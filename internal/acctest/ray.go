package acctest

import (
	"os"
	"strconv"
	"testing"

	"github.com/rayvllm/terraform-provider-rayvllm/internal/ray"
)

// Ray is a client of the test Ray head (PreCheck(t, NeedRay) first).
func Ray(t testing.TB) *ray.Client {
	t.Helper()
	PreCheck(t, NeedRay)
	c, err := ray.New(ray.Config{Address: os.Getenv("RAY_ADDRESS"), Token: os.Getenv("RAY_AUTH_TOKEN")})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Serve is the Ray head of .ci/services.sh with its Serve proxy port.
type Serve struct {
	Client *ray.Client
	Port   int
}

// NewServe checks for the head and its Serve port (PreCheck(t, NeedRay,
// NeedServe)).
func NewServe(t testing.TB) Serve {
	t.Helper()
	PreCheck(t, NeedRay, NeedServe)
	port, err := strconv.Atoi(os.Getenv("RAYVLLM_TEST_SERVE_PORT"))
	if err != nil {
		t.Fatal(err)
	}
	return Serve{Client: Ray(t), Port: port}
}
