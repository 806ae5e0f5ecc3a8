package ec2box

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Every name the box creates starts with prefix, then the run's ID, so that
// Close and Sweep find them all: network namespaces "ebx-<run>-<instance>",
// links "ebx<run>…", the work directory <WorkDir>/<run>.
const prefix = "ebx"

// ip runs the ip command.
func ip(args ...string) error {
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}

// inNS runs ip inside the network namespace ns.
func inNS(ns string, args ...string) error {
	return ip(append([]string{"netns", "exec", ns, "ip"}, args...)...)
}

// nsPIDs lists the processes whose network namespace is ns.
func nsPIDs(ns string) []int {
	out, err := exec.Command("ip", "netns", "pids", ns).Output()
	if err != nil {
		return nil
	}
	var pids []int
	for _, f := range strings.Fields(string(out)) {
		if n, err := strconv.Atoi(f); err == nil {
			pids = append(pids, n)
		}
	}
	return pids
}

// shutdown sends SIGTERM to every process in ns, waits up to grace for them
// to exit (Ray stops its node on SIGTERM, as on an instance's shutdown), then
// SIGKILLs what is left.
func shutdown(ns string, grace time.Duration) {
	for _, pid := range nsPIDs(ns) {
		_ = syscall.Kill(pid, syscall.SIGTERM)
	}
	deadline := time.Now().Add(grace)
	for time.Now().Before(deadline) && len(nsPIDs(ns)) > 0 {
		time.Sleep(200 * time.Millisecond)
	}
	for try := 0; try < 20; try++ {
		pids := nsPIDs(ns)
		if len(pids) == 0 {
			return
		}
		for _, pid := range pids {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// removeNS shuts the namespace's processes down and deletes it and its
// host-side veth (deleting one end of a veth deletes both).
func removeNS(ns, hostLink string, grace time.Duration) error {
	shutdown(ns, grace)
	var errs []error
	if hostLink != "" && linkExists(hostLink) {
		errs = append(errs, ip("link", "del", hostLink))
	}
	if nsExists(ns) {
		errs = append(errs, ip("netns", "del", ns))
	}
	return errors.Join(errs...)
}

func nsExists(ns string) bool {
	_, err := os.Stat(filepath.Join("/run/netns", ns))
	return err == nil
}

func linkExists(name string) bool {
	_, err := net.InterfaceByName(name)
	return err == nil
}

// listNS returns the names of the network namespaces.
func listNS() []string {
	entries, _ := os.ReadDir("/run/netns")
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

// listenIn opens a TCP listener inside the network namespace ns: the socket
// belongs to the namespace it was created in, so the box serves IMDS to each
// instance at 169.254.169.254 from this process.
func listenIn(ns, addr string) (net.Listener, error) {
	type result struct {
		l   net.Listener
		err error
	}
	ch := make(chan result, 1)
	go func() {
		// The thread switches namespaces; it is locked and, if switching
		// back fails, never unlocked, so Go retires it.
		runtime.LockOSThread()
		self, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			runtime.UnlockOSThread()
			ch <- result{err: err}
			return
		}
		defer func() { _ = self.Close() }()
		target, err := os.Open(filepath.Join("/run/netns", ns))
		if err != nil {
			runtime.UnlockOSThread()
			ch <- result{err: err}
			return
		}
		defer func() { _ = target.Close() }()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			ch <- result{err: fmt.Errorf("setns %s: %w", ns, err)}
			return
		}
		l, lerr := (&net.ListenConfig{}).Listen(context.Background(), "tcp4", addr)
		if err := unix.Setns(int(self.Fd()), unix.CLONE_NEWNET); err != nil {
			ch <- result{l, errors.Join(lerr, fmt.Errorf("setns back: %w", err))}
			return
		}
		runtime.UnlockOSThread()
		ch <- result{l, lerr}
	}()
	r := <-ch
	return r.l, r.err
}

// Sweep removes what runs of the box left whose test process is gone (a
// crashed or killed run): their namespaces with every process in them, their
// links and bridge, their work directories. Runs whose process still lives
// (another test binary) are left alone. Start sweeps before it begins.
func Sweep(workDir string) error {
	if workDir == "" {
		workDir = defaultWorkDir
	}
	dead := map[string]bool{}
	isDead := func(run string) bool {
		if d, ok := dead[run]; ok {
			return d
		}
		d := !ownerAlive(filepath.Join(workDir, run))
		dead[run] = d
		return d
	}
	var errs []error
	for _, ns := range listNS() {
		parts := strings.SplitN(ns, "-", 3)
		if len(parts) != 3 || parts[0] != prefix || !isDead(parts[1]) {
			continue
		}
		errs = append(errs, removeNS(ns, "", 2*time.Second))
	}
	ifs, _ := net.Interfaces()
	for _, i := range ifs {
		if !strings.HasPrefix(i.Name, prefix) || len(i.Name) < len(prefix)+runIDLen {
			continue
		}
		if run := i.Name[len(prefix) : len(prefix)+runIDLen]; isDead(run) && linkExists(i.Name) {
			errs = append(errs, ip("link", "del", i.Name))
		}
	}
	entries, _ := os.ReadDir(workDir)
	for _, e := range entries {
		if e.IsDir() && len(e.Name()) == runIDLen && isDead(e.Name()) {
			errs = append(errs, unmountUnder(filepath.Join(workDir, e.Name())), os.RemoveAll(filepath.Join(workDir, e.Name())))
		}
	}
	return errors.Join(errs...)
}

// ownerAlive reports whether the process that wrote dir/owner is running
// (the PID and its start time, so that a reused PID does not count).
func ownerAlive(dir string) bool {
	b, err := os.ReadFile(filepath.Join(dir, "owner"))
	if err != nil {
		return false
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return false
	}
	pid, err := strconv.Atoi(f[0])
	if err != nil {
		return false
	}
	return processStart(pid) == f[1]
}

// processStart is field 22 of /proc/pid/stat (start time in clock ticks).
func processStart(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ""
	}
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 20 {
		return ""
	}
	return fields[19]
}

// unmountUnder detaches any mount below dir (none is expected: the
// instances' mounts live in their own mount namespaces).
func unmountUnder(dir string) error {
	f, err := os.Open("/proc/self/mounts")
	if err != nil {
		return err
	}
	defer func() { _ = f.Close() }()
	var errs []error
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 1 && strings.HasPrefix(fields[1], dir+"/") {
			errs = append(errs, unix.Unmount(fields[1], unix.MNT_DETACH))
		}
	}
	return errors.Join(errs...)
}
