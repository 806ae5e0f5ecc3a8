package ray

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rayvllm/terraform-provider-rayvllm/internal/retry"
)

func liveInstance(t *testing.T, js string) *ServeInstance {
	t.Helper()
	var s ServeInstance
	if err := json.Unmarshal([]byte(js), &s); err != nil {
		t.Fatal(err)
	}
	return &s
}

const runningServe = `{
 "proxy_location": "EveryNode",
 "http_options": {"host": "127.0.0.1", "port": 8123, "root_path": ""},
 "grpc_options": {"port": 9000, "grpc_servicer_functions": []},
 "target_capacity": 50.0,
 "applications": {
  "other": {"name": "other", "route_prefix": "/other", "status": "RUNNING", "source": "declarative",
            "deployed_app_config": {"name": "other", "route_prefix": "/other", "import_path": "x:app", "future_field": {"kept": [1, 2.5]}}},
  "mine": {"name": "mine", "route_prefix": "/mine", "status": "RUNNING", "source": "declarative",
           "deployed_app_config": {"name": "mine", "route_prefix": "/mine", "import_path": "old:app"}},
  "handmade": {"name": "handmade", "route_prefix": "/hand", "status": "RUNNING", "source": "imperative", "deployed_app_config": null},
  "leaving": {"name": "leaving", "route_prefix": "/leaving", "status": "DELETING", "source": "declarative", "deployed_app_config": null}
 }}`

func TestMergeKeepsOtherAppsVerbatim(t *testing.T) {
	live := liveInstance(t, runningServe)
	ours := json.RawMessage(`{"name":"mine","route_prefix":"/mine","import_path":"new:app"}`)
	body, warnings, err := mergeServeConfig(live, "mine", ours, map[string]any{"host": "127.0.0.1", "port": 8123})
	if err != nil || len(warnings) != 0 {
		t.Fatal(err, warnings)
	}
	if len(body.Applications) != 2 {
		t.Fatalf("want other + mine (imperative and deleting apps are not part of the list), got %d", len(body.Applications))
	}
	if got := string(body.Applications[0]); got != string(live.Applications["other"].DeployedAppConfig) {
		t.Fatalf("the other app was altered: %s", got)
	}
	if string(body.Applications[1]) != string(ours) {
		t.Fatalf("ours: %s", body.Applications[1])
	}
	if string(body.HTTPOptions) != string(live.HTTPOptions) || *body.ProxyLocation != "EveryNode" || *body.TargetCapacity != 50 || string(body.GRPCOptions) != string(live.GRPCOptions) {
		t.Fatalf("top-level options not written back as they were: %+v", body)
	}

	// Removing ours keeps the other.
	body, _, err = mergeServeConfig(live, "mine", nil, nil)
	if err != nil || len(body.Applications) != 1 || !strings.Contains(string(body.Applications[0]), `"other"`) {
		t.Fatalf("remove: %v %v", err, body)
	}

	// A running Serve keeps its HTTP options; a different wish is a warning.
	_, warnings, err = mergeServeConfig(live, "mine", ours, map[string]any{"host": "127.0.0.1", "port": int64(9999)})
	if err != nil || len(warnings) != 1 || !strings.Contains(warnings[0], "port 8123 (configured 9999)") {
		t.Fatalf("warnings %v, %v", warnings, err)
	}
}

func TestMergeStartsServeWithConfiguredHTTPOptions(t *testing.T) {
	live := liveInstance(t, `{"controller_info": {}, "proxies": {}, "applications": {}, "target_capacity": null}`)
	body, _, err := mergeServeConfig(live, "a", json.RawMessage(`{"name":"a","import_path":"x:y","route_prefix":"/a"}`), map[string]any{"host": "127.0.0.1", "port": 8555})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(body)
	want := `{"http_options":{"host":"127.0.0.1","port":8555},"target_capacity":null,"applications":[{"name":"a","import_path":"x:y","route_prefix":"/a"}]}`
	if string(b) != want {
		t.Fatalf("got  %s\nwant %s", b, want)
	}
}

func TestMergeRefusesUnsafeWrites(t *testing.T) {
	ours := json.RawMessage(`{"name":"new","route_prefix":"/new","import_path":"x:app"}`)
	for name, tc := range map[string]struct{ live, app, want string }{
		"redacted env":         {`{"applications":{"o":{"status":"RUNNING","source":"declarative","deployed_app_config":{"name":"o","runtime_env":{"env_vars":{"K":"<redacted>"}}}}}}`, "new", "<redacted>"},
		"config not readable":  {`{"applications":{"o":{"status":"DEPLOYING","source":"declarative","deployed_app_config":null}}}`, "new", "no readable config"},
		"route taken":          {`{"applications":{"o":{"route_prefix":"/new","status":"RUNNING","source":"imperative"}}}`, "new", `route_prefix "/new" is already used by application "o"`},
		"imperative same name": {`{"applications":{"new":{"route_prefix":"/x","status":"RUNNING","source":"imperative"}}}`, "new", "serve.run"},
	} {
		t.Run(name, func(t *testing.T) {
			_, _, err := mergeServeConfig(liveInstance(t, tc.live), tc.app, ours, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tc.want)
			}
		})
	}
}

// fakeServe is an in-memory stand-in for the dashboard's Serve endpoints with
// a slow PUT, so that unserialized read-modify-writes would lose updates.
type fakeServe struct {
	mu   sync.Mutex
	apps map[string]json.RawMessage
	puts int
	// afterFirstPut, when set, runs once after the first PUT was applied;
	// that PUT is then answered 503, as if its answer was lost.
	afterFirstPut func(apps map[string]json.RawMessage)
}

func (f *fakeServe) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != servePath {
		http.NotFound(w, r)
		return
	}
	switch r.Method {
	case "GET":
		f.mu.Lock()
		out := map[string]any{}
		for n, c := range f.apps {
			out[n] = map[string]any{"name": n, "status": "RUNNING", "source": "declarative", "deployed_app_config": c}
		}
		f.mu.Unlock()
		_ = json.NewEncoder(w).Encode(map[string]any{"applications": out, "http_options": map[string]any{"host": "127.0.0.1", "port": 8000}})
	case "PUT":
		var body struct{ Applications []json.RawMessage }
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		time.Sleep(20 * time.Millisecond)
		apps := map[string]json.RawMessage{}
		for _, a := range body.Applications {
			var n struct{ Name string }
			_ = json.Unmarshal(a, &n)
			apps[n.Name] = a
		}
		f.mu.Lock()
		f.apps, f.puts = apps, f.puts+1
		hook := f.afterFirstPut
		f.afterFirstPut = nil
		if hook != nil {
			hook(f.apps)
		}
		f.mu.Unlock()
		if hook != nil {
			http.Error(w, "upstream connect error", http.StatusServiceUnavailable)
		}
	}
}

// A write whose answer is lost is not repeated with the list read before
// it: a change made to another application in between survives.
func TestAmbiguousWriteRereadsTheList(t *testing.T) {
	changed := json.RawMessage(`{"name":"other","route_prefix":"/o","import_path":"o:app","args":{"v":2}}`)
	fake := &fakeServe{
		apps:          map[string]json.RawMessage{"other": json.RawMessage(`{"name":"other","route_prefix":"/o","import_path":"o:app","args":{"v":1}}`)},
		afterFirstPut: func(apps map[string]json.RawMessage) { apps["other"] = changed },
	}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	c := fastClient(t, Config{Address: srv.URL})
	if _, err := c.DeployServeApplication(context.Background(), map[string]any{"name": "mine", "route_prefix": "/m", "import_path": "m:app"}, DeployOptions{MustNotExist: true}); err != nil {
		t.Fatal(err)
	}
	if fake.puts != 2 || string(fake.apps["other"]) != string(changed) || fake.apps["mine"] == nil {
		t.Fatalf("after %d writes: other = %s, mine = %s", fake.puts, fake.apps["other"], fake.apps["mine"])
	}
}

func TestConcurrentDeploysAreSerializedPerCluster(t *testing.T) {
	fake := &fakeServe{apps: map[string]json.RawMessage{"unmanaged": json.RawMessage(`{"name":"unmanaged","route_prefix":"/u","import_path":"u:app"}`)}}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	// Separate clients for the same address share the lock, as resources
	// with their own auth_token would.
	const n = 8
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := fastClient(t, Config{Address: srv.URL})
			name := fmt.Sprintf("app%d", i)
			_, err := c.DeployServeApplication(context.Background(), map[string]any{"name": name, "route_prefix": "/" + name, "import_path": "x:app"}, DeployOptions{MustNotExist: true})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(fake.apps) != n+1 || fake.puts != n {
		t.Fatalf("lost updates: %d apps after %d writes, want %d", len(fake.apps), fake.puts, n+1)
	}
	c := fastClient(t, Config{Address: srv.URL})
	if _, err := c.DeployServeApplication(context.Background(), map[string]any{"name": "app0", "route_prefix": "/zz", "import_path": "x:app"}, DeployOptions{MustNotExist: true}); err == nil || !strings.Contains(err.Error(), "terraform import") {
		t.Fatalf("creating an existing app must fail and point at import: %v", err)
	}
	for i := range n {
		if ok, err := c.RemoveServeApplication(context.Background(), fmt.Sprintf("app%d", i)); !ok || err != nil {
			t.Fatal(ok, err)
		}
	}
	if ok, err := c.RemoveServeApplication(context.Background(), "app0"); ok || err != nil {
		t.Fatalf("removing a missing app: %v %v", ok, err)
	}
	if _, ok := fake.apps["unmanaged"]; !ok || len(fake.apps) != 1 {
		t.Fatalf("apps left: %v", fake.apps)
	}
	_, _, err := c.FindServeApplication(context.Background(), "app1")
	if !retry.IsNotFound(err) {
		t.Fatalf("want not found, got %v", err)
	}
}

func TestServeEndpoint(t *testing.T) {
	c := fastClient(t, Config{Address: "https://ray.example.com:8265"})
	cert := "/c.pem"
	for _, tc := range []struct {
		h     ServeHTTPOptions
		route string
		want  string
	}{
		{ServeHTTPOptions{Host: "0.0.0.0", Port: 8000}, "/qwen", "http://ray.example.com:8000/qwen"},
		{ServeHTTPOptions{Host: "127.0.0.1", Port: 9000, RootPath: "/serve/"}, "/", "http://127.0.0.1:9000/serve/"},
		{ServeHTTPOptions{Host: "::1", Port: 443, SSLCertFile: &cert}, "/a", "https://[::1]:443/a"},
	} {
		if got := c.ServeEndpoint(&tc.h, tc.route); got != tc.want {
			t.Errorf("%+v %s: got %s want %s", tc.h, tc.route, got, tc.want)
		}
	}
}

func TestFailureCarriesServeMessage(t *testing.T) {
	a := &ServeApplication{Name: "x", Status: ServeAppDeployFailed, Message: "Traceback...\nRuntimeError: boom",
		Deployments: map[string]*ServeDeployment{"D": {Status: "DEPLOY_FAILED", Message: "replica crashed"}, "E": {Status: "HEALTHY"}}}
	err := a.Failure()
	if err == nil || !strings.Contains(err.Error(), "RuntimeError: boom") || !strings.Contains(err.Error(), `deployment "D" is DEPLOY_FAILED: replica crashed`) {
		t.Fatalf("%v", err)
	}
	if (&ServeApplication{Status: ServeAppRunning}).Failure() != nil {
		t.Fatal("RUNNING is no failure")
	}
}

// TestLiveServeKeepsOtherApps runs against the Ray head of .ci/services.sh.
func TestLiveServeKeepsOtherApps(t *testing.T) {
	c := liveClient(t)
	ctx := context.Background()
	pkg, err := PackageDir(filepath.Join("..", "provider", "testdata", "serve_fixture"), []string{"*_test.py", "__pycache__"})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.EnsurePackage(ctx, pkg); err != nil {
		t.Fatal(err)
	}
	suffix := fmt.Sprint(time.Now().UnixNano() % 1e6)
	app := func(name string) map[string]any {
		return map[string]any{"name": name, "route_prefix": "/" + name, "import_path": "fixture_app:build_app",
			"runtime_env": map[string]any{"working_dir": pkg.URI}, "args": map[string]any{"model_id": name},
			"deployments": []any{map[string]any{"name": "Fixture", "num_replicas": 1, "ray_actor_options": map[string]any{"num_cpus": 0.1}}}}
	}
	a, b := "live-a-"+suffix, "live-b-"+suffix
	httpOpts := map[string]any{"host": "127.0.0.1"}
	if p, err := strconv.Atoi(os.Getenv("RAYVLLM_TEST_SERVE_PORT")); err == nil {
		httpOpts["port"] = p
	}
	for _, n := range []string{a, b} {
		if _, err := c.DeployServeApplication(ctx, app(n), DeployOptions{HTTPOptions: httpOpts, MustNotExist: true}); err != nil {
			t.Fatal(err)
		}
	}
	defer c.RemoveServeApplication(ctx, b) //nolint:errcheck
	_, err = retry.StateWait[*ServeApplication]{
		Pending: []string{ServeAppNotStarted, ServeAppDeploying}, Target: []string{ServeAppRunning},
		Timeout: 3 * time.Minute, PollInterval: time.Second,
		Refresh: func(ctx context.Context) (*ServeApplication, string, error) {
			x, _, err := c.FindServeApplication(ctx, a)
			if err != nil {
				return nil, "", err
			}
			return x, x.Status, x.Failure()
		},
	}.Wait(ctx)
	if err != nil {
		t.Fatal(err)
	}
	before, _, err := c.FindServeApplication(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	if found, err := c.RemoveServeApplication(ctx, a); !found || err != nil {
		t.Fatal(found, err)
	}
	after, inst, err := c.FindServeApplication(ctx, b)
	if err != nil {
		t.Fatalf("%s must survive removing %s: %v", b, a, err)
	}
	if string(after.DeployedAppConfig) != string(before.DeployedAppConfig) {
		t.Fatalf("%s's config changed:\n%s\n%s", b, before.DeployedAppConfig, after.DeployedAppConfig)
	}
	if h := inst.HTTP(); h == nil || h.Host != "127.0.0.1" {
		t.Fatalf("Serve must listen on loopback only: %+v", h)
	}
	if x, ok := inst.Applications[a]; ok && x.Status != ServeAppDeleting {
		t.Fatalf("%s is still there: %s", a, x.Status)
	}
}
