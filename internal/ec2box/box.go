package ec2box

import (
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"golang.org/x/sys/unix"
)

var (
	//go:embed image/boot.sh
	bootScript []byte
	//go:embed image/systemctl
	systemctlScript []byte
)

const (
	defaultWorkDir = "/var/tmp/ec2box"
	runIDLen       = 4
	imdsAddr       = "169.254.169.254"
)

// Image is what an AMI holds in the box: the venv baked into
// /opt/rayvllm/venv ("" = none, so the boot script must install Ray and,
// with no package index, fails to).
type Image struct {
	Venv string
}

// Options configure a box.
type Options struct {
	MotoURL string // moto, e.g. http://127.0.0.1:5000 (required)
	Region  string // default us-east-1
	// DefaultImage is the image of every AMI not given in Images.
	DefaultImage Image
	Images       map[string]Image
	WorkDir      string        // default /var/tmp/ec2box; must not be under /tmp
	Poll         time.Duration // how often moto is polled, default 1s
	// ShutdownGrace is how long a stopped or terminated instance's
	// processes get after SIGTERM before SIGKILL (default 10s).
	ShutdownGrace time.Duration
	Logf          func(format string, args ...any)
}

// Host is a booted instance.
type Host struct {
	ID, PrivateIP, Namespace string
}

// Box makes moto's instances in its subnet into hosts.
type Box struct {
	opts    Options
	run     string
	region  string
	dir     string
	cidr    *net.IPNet
	gateway net.IP
	bridge  string
	ec2     *ec2.Client
	vpcID   string
	subnet  string
	motoFwd string // moto as the instances reach it
	ec2URL  string
	// instanceEC2 is the EC2 endpoint of instances that boot from now on
	// ("" = motoFwd); SetInstanceEC2URL.
	instanceEC2 string

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	srv    *http.Server
	fwd    net.Listener

	mu     sync.Mutex
	hosts  map[string]*host
	nlinks int
	errs   []error
}

type host struct {
	id, ns, link, peer, ip, disk string
	running                      bool
	imds                         *http.Server
	cmd                          *exec.Cmd
}

type instance struct {
	id, privateIP, instanceType, ami, az, state, userData, vpc string
	tags                                                       map[string]string
}

func (o *Options) defaults() {
	if o.Region == "" {
		o.Region = "us-east-1"
	}
	if o.WorkDir == "" {
		o.WorkDir = defaultWorkDir
	}
	if o.Poll == 0 {
		o.Poll = time.Second
	}
	if o.ShutdownGrace == 0 {
		o.ShutdownGrace = 10 * time.Second
	}
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
}

// Start sweeps what crashed runs left, picks a free 10.213.N.0/24, creates
// the bridge, the VPC and subnet in moto, the EC2 front and the moto
// forwarder, and starts watching moto.
func Start(opts Options) (_ *Box, err error) {
	opts.defaults()
	if os.Geteuid() != 0 {
		return nil, errors.New("ec2box needs root (network namespaces, veth pairs, mounts)")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return nil, errors.New("ec2box needs the ip command (iproute2)")
	}
	if strings.HasPrefix(filepath.Clean(opts.WorkDir)+"/", "/tmp/") {
		return nil, fmt.Errorf("ec2box work dir %s must not be under /tmp (each instance has its own /tmp)", opts.WorkDir)
	}
	if err := os.MkdirAll(opts.WorkDir, 0o755); err != nil {
		return nil, err
	}
	if err := Sweep(opts.WorkDir); err != nil {
		opts.Logf("ec2box: sweeping crashed runs: %v", err)
	}
	moto, err := url.Parse(opts.MotoURL)
	if err != nil || moto.Host == "" {
		return nil, fmt.Errorf("ec2box: MotoURL %q is not a URL", opts.MotoURL)
	}
	b := &Box{opts: opts, region: opts.Region, hosts: map[string]*host{}}
	b.ctx, b.cancel = context.WithCancel(context.Background())
	defer func() {
		if err != nil {
			_ = b.Close()
		}
	}()
	if err := b.claimNetwork(); err != nil {
		return nil, err
	}
	cfg, err := config.LoadDefaultConfig(b.ctx, config.WithRegion(b.region),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("testing", "testing", "")))
	if err != nil {
		return nil, err
	}
	b.ec2 = ec2.NewFromConfig(cfg, func(o *ec2.Options) { o.BaseEndpoint = aws.String(opts.MotoURL) })
	if err := b.createVPC(); err != nil {
		return nil, err
	}
	if b.fwd, err = net.Listen("tcp4", net.JoinHostPort(b.gateway.String(), "0")); err != nil {
		return nil, fmt.Errorf("ec2box: moto forwarder on %s: %w", b.gateway, err)
	}
	b.motoFwd = "http://" + b.fwd.Addr().String()
	go forward(b.ctx, b.fwd, moto.Host)
	fl, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	b.ec2URL = "http://" + fl.Addr().String()
	b.srv = &http.Server{Handler: newFront(b, moto), ReadHeaderTimeout: 30 * time.Second}
	go func() { _ = b.srv.Serve(fl) }()
	b.wg.Add(1)
	go b.watch()
	opts.Logf("ec2box %s: subnet %s (%s) in VPC %s, gateway %s on %s, EC2 endpoint %s", b.run, b.subnet, b.cidr, b.vpcID, b.gateway, b.bridge, b.ec2URL)
	return b, nil
}

// claimNetwork picks the run ID and the first 10.213.N.0/24 no interface
// uses, and puts its .1 on a new bridge, under a machine-wide lock so that
// concurrent boxes pick different ranges.
func (b *Box) claimNetwork() error {
	lock, err := os.OpenFile(filepath.Join(b.opts.WorkDir, ".lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return err
	}
	defer func() { _ = lock.Close() }()
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX); err != nil {
		return err
	}
	for {
		r := make([]byte, runIDLen/2)
		_, _ = rand.Read(r)
		b.run = hex.EncodeToString(r)
		if _, err := os.Stat(filepath.Join(b.opts.WorkDir, b.run)); os.IsNotExist(err) {
			break
		}
	}
	b.dir = filepath.Join(b.opts.WorkDir, b.run)
	if err := os.MkdirAll(b.dir, 0o755); err != nil {
		return err
	}
	owner := fmt.Sprintf("%d %s\n", os.Getpid(), processStart(os.Getpid()))
	if err := os.WriteFile(filepath.Join(b.dir, "owner"), []byte(owner), 0o600); err != nil {
		return err
	}
	used := map[int]bool{}
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && n.IP[12] == 10 && n.IP[13] == 213 {
			used[int(n.IP[14])] = true
		}
	}
	third := -1
	for i := 0; i < 256; i++ {
		if !used[i] {
			third = i
			break
		}
	}
	if third < 0 {
		return errors.New("ec2box: every 10.213.N.0/24 is in use")
	}
	_, b.cidr, _ = net.ParseCIDR(fmt.Sprintf("10.213.%d.0/24", third))
	b.gateway = net.IPv4(10, 213, byte(third), 1).To4()
	b.bridge = prefix + b.run + "br"
	if err := ip("link", "add", b.bridge, "type", "bridge"); err != nil {
		return err
	}
	if err := ip("addr", "add", b.gateway.String()+"/24", "dev", b.bridge); err != nil {
		return err
	}
	return ip("link", "set", b.bridge, "up")
}

func (b *Box) createVPC() error {
	vpc, err := b.ec2.CreateVpc(b.ctx, &ec2.CreateVpcInput{CidrBlock: aws.String(b.cidr.String())})
	if err != nil {
		return fmt.Errorf("ec2box: creating the VPC in moto: %w", err)
	}
	b.vpcID = aws.ToString(vpc.Vpc.VpcId)
	sn, err := b.ec2.CreateSubnet(b.ctx, &ec2.CreateSubnetInput{VpcId: vpc.Vpc.VpcId, CidrBlock: aws.String(b.cidr.String()), AvailabilityZone: aws.String(b.region + "a")})
	if err != nil {
		return fmt.Errorf("ec2box: creating the subnet in moto: %w", err)
	}
	b.subnet = aws.ToString(sn.Subnet.SubnetId)
	return nil
}

// SetImage sets the image of an AMI for instances that boot from now on.
func (b *Box) SetImage(ami string, img Image) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.opts.Images == nil {
		b.opts.Images = map[string]Image{}
	}
	b.opts.Images[ami] = img
}

// Gateway is the subnet's router address on this machine: a listener on it
// (e.g. a fault proxy) is what the instances can reach.
func (b *Box) Gateway() string { return b.gateway.String() }

// SetInstanceEC2URL makes the instances that boot from now on call EC2 at
// url (on Gateway()) instead of moto, e.g. through a fault proxy; "" = moto.
func (b *Box) SetInstanceEC2URL(url string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.instanceEC2 = url
}

// SubnetID is the moto subnet whose instances the box boots.
func (b *Box) SubnetID() string { return b.subnet }

// VPCID is the subnet's VPC.
func (b *Box) VPCID() string { return b.vpcID }

// CIDR is the subnet's range, e.g. 10.213.0.0/24.
func (b *Box) CIDR() string { return b.cidr.String() }

// EC2URL is the EC2 endpoint for the code under test: moto, with the
// instances' real console behind GetConsoleOutput.
func (b *Box) EC2URL() string { return b.ec2URL }

// Hosts lists the instances that are booted now, by instance ID.
func (b *Box) Hosts() []Host {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []Host
	for _, h := range b.hosts {
		if h.running {
			out = append(out, Host{ID: h.id, PrivateIP: h.ip, Namespace: h.ns})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Namespaces lists the network namespaces of this box that exist now.
func (b *Box) Namespaces() []string {
	var out []string
	for _, ns := range listNS() {
		if strings.HasPrefix(ns, prefix+"-"+b.run+"-") {
			out = append(out, ns)
		}
	}
	return out
}

// Processes counts the processes in this box's namespaces.
func (b *Box) Processes() int {
	n := 0
	for _, ns := range b.Namespaces() {
		n += len(nsPIDs(ns))
	}
	return n
}

// Console returns what the instance's boot has printed so far.
func (b *Box) Console(id string) string {
	out, _ := b.console(id)
	return string(out)
}

func (b *Box) console(id string) ([]byte, bool) {
	b.mu.Lock()
	h, ok := b.hosts[id]
	b.mu.Unlock()
	if !ok {
		return nil, false
	}
	out, err := os.ReadFile(filepath.Join(h.disk, "console.log"))
	return out, err == nil
}

// Err returns what went wrong booting or stopping instances so far.
func (b *Box) Err() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return errors.Join(b.errs...)
}

func (b *Box) fail(err error) {
	b.opts.Logf("ec2box %s: %v", b.run, err)
	b.mu.Lock()
	b.errs = append(b.errs, err)
	b.mu.Unlock()
}

// watch follows moto: running instances of the subnet boot, stopped and
// terminated ones shut down.
func (b *Box) watch() {
	defer b.wg.Done()
	t := time.NewTicker(b.opts.Poll)
	defer t.Stop()
	for {
		b.reconcile()
		select {
		case <-b.ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (b *Box) reconcile() {
	insts, err := b.instances(b.ctx, nil)
	if err != nil {
		if b.ctx.Err() == nil {
			b.opts.Logf("ec2box %s: describing instances: %v", b.run, err)
		}
		return
	}
	seen := map[string]bool{}
	for _, in := range insts {
		seen[in.id] = true
		b.mu.Lock()
		h := b.hosts[in.id]
		b.mu.Unlock()
		switch {
		case in.state == "running" && (h == nil || !h.running):
			if err := b.boot(in, h != nil); err != nil {
				b.fail(fmt.Errorf("booting %s: %w", in.id, err))
			}
		case in.state != "running" && in.state != "pending" && h != nil && h.running:
			b.halt(h, in.state)
		}
	}
	b.mu.Lock()
	var gone []*host
	for id, h := range b.hosts {
		if h.running && !seen[id] {
			gone = append(gone, h)
		}
	}
	b.mu.Unlock()
	for _, h := range gone {
		b.halt(h, "gone from moto")
	}
}

// instances describes the subnet's instances (ids nil: all of them).
func (b *Box) instances(ctx context.Context, ids []string) ([]instance, error) {
	in := &ec2.DescribeInstancesInput{InstanceIds: ids}
	if ids == nil {
		in.Filters = []ec2types.Filter{{Name: aws.String("subnet-id"), Values: []string{b.subnet}}}
	}
	var out []instance
	p := ec2.NewDescribeInstancesPaginator(b.ec2, in)
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, r := range page.Reservations {
			for _, i := range r.Instances {
				tags := map[string]string{}
				for _, t := range i.Tags {
					tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
				}
				it := instance{id: aws.ToString(i.InstanceId), privateIP: aws.ToString(i.PrivateIpAddress), instanceType: string(i.InstanceType),
					ami: aws.ToString(i.ImageId), vpc: aws.ToString(i.VpcId), tags: tags}
				if i.State != nil {
					it.state = string(i.State.Name)
				}
				if i.Placement != nil {
					it.az = aws.ToString(i.Placement.AvailabilityZone)
				}
				out = append(out, it)
			}
		}
	}
	return out, nil
}

// describe is one instance, with its user data.
func (b *Box) describe(ctx context.Context, id string) (instance, error) {
	insts, err := b.instances(ctx, []string{id})
	if err != nil || len(insts) != 1 {
		return instance{}, fmt.Errorf("describing %s: %v", id, err)
	}
	attr, err := b.ec2.DescribeInstanceAttribute(ctx, &ec2.DescribeInstanceAttributeInput{InstanceId: aws.String(id), Attribute: ec2types.InstanceAttributeNameUserData})
	if err != nil {
		return instance{}, fmt.Errorf("reading the user data of %s: %w", id, err)
	}
	in := insts[0]
	if attr.UserData != nil && attr.UserData.Value != nil {
		ud, err := base64.StdEncoding.DecodeString(aws.ToString(attr.UserData.Value))
		if err != nil {
			return instance{}, fmt.Errorf("decoding the user data of %s: %w", id, err)
		}
		in.userData = string(ud)
	}
	return in, nil
}

// gpus is the instance type's GPU count and name from moto.
func (b *Box) gpus(ctx context.Context, instanceType string) (int, string) {
	out, err := b.ec2.DescribeInstanceTypes(ctx, &ec2.DescribeInstanceTypesInput{InstanceTypes: []ec2types.InstanceType{ec2types.InstanceType(instanceType)}})
	if err != nil || len(out.InstanceTypes) == 0 || out.InstanceTypes[0].GpuInfo == nil || len(out.InstanceTypes[0].GpuInfo.Gpus) == 0 {
		return 0, ""
	}
	g := out.InstanceTypes[0].GpuInfo.Gpus[0]
	return int(aws.ToInt32(g.Count)), aws.ToString(g.Manufacturer) + " " + aws.ToString(g.Name)
}

// boot turns a running instance into a host: namespace, veth, IMDS, then
// the user data (first boot) or the enabled units (a restart).
func (b *Box) boot(summary instance, reboot bool) error {
	in, err := b.describe(b.ctx, summary.id)
	if err != nil {
		return err
	}
	addr := net.ParseIP(in.privateIP)
	if addr == nil || !b.cidr.Contains(addr) {
		return fmt.Errorf("private IP %q is not in the box's subnet %s", in.privateIP, b.cidr)
	}
	b.mu.Lock()
	h := b.hosts[in.id]
	if h == nil {
		b.nlinks++
		h = &host{id: in.id, ns: prefix + "-" + b.run + "-" + in.id, ip: in.privateIP, disk: filepath.Join(b.dir, in.id),
			link: fmt.Sprintf("%s%sh%x", prefix, b.run, b.nlinks), peer: fmt.Sprintf("%s%sp%x", prefix, b.run, b.nlinks)}
		b.hosts[in.id] = h
	}
	b.mu.Unlock()
	if !reboot {
		if err := b.makeDisk(h, in); err != nil {
			return err
		}
	}
	if err := b.plug(h); err != nil {
		return err
	}
	m := &imds{box: b, id: in.id, tokens: map[string]time.Time{}}
	l, err := listenIn(h.ns, imdsAddr+":80")
	if err != nil {
		return fmt.Errorf("IMDS in %s: %w", h.ns, err)
	}
	h.imds = &http.Server{Handler: m, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = h.imds.Serve(l) }()

	console, err := os.OpenFile(filepath.Join(h.disk, "console.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	mode := "first"
	if reboot {
		mode = "reboot"
	}
	cmd := exec.Command("ip", "netns", "exec", h.ns, "/bin/bash", filepath.Join(h.disk, "boot.sh"), h.disk, mode)
	b.mu.Lock()
	ec2URL := b.instanceEC2
	b.mu.Unlock()
	if ec2URL == "" {
		ec2URL = b.motoFwd
	}
	// cloud-init's environment: no test secrets, no proxies, only what the
	// instance would have. The endpoint variables stand in for DNS of the
	// regional AWS endpoints.
	cmd.Env = []string{
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root", "LANG=C.UTF-8",
		"AWS_ENDPOINT_URL_SSM=" + b.motoFwd, "AWS_ENDPOINT_URL_EC2=" + ec2URL,
		"EC2BOX_INSTANCE_ID=" + in.id, "EC2BOX_INSTANCE_TYPE=" + in.instanceType, "EC2BOX_PRIVATE_IP=" + in.privateIP,
	}
	// A checkout under /tmp (its venv's parent) stays the host's inside the
	// instance, so what a job writes there (batch output) reaches the test.
	if root := filepath.Dir(b.opts.DefaultImage.Venv); strings.HasPrefix(root, "/tmp/") {
		cmd.Env = append(cmd.Env, "EC2BOX_SHARED="+root)
	}
	cmd.Stdout, cmd.Stderr = console, console
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		_ = console.Close()
		return err
	}
	go func() { _ = cmd.Wait(); _ = console.Close() }()
	b.mu.Lock()
	h.cmd, h.running = cmd, true
	b.mu.Unlock()
	b.opts.Logf("ec2box %s: %s booted (%s) at %s in %s", b.run, in.id, mode, in.privateIP, h.ns)
	return nil
}

// plug creates the namespace with eth0 = the instance's private IP on a
// veth to the bridge, and IMDS's address. There is no default route: the
// subnet (the gateway's forwarders, the other instances) and IMDS are all
// an instance may reach; anything else fails at once as unreachable.
func (b *Box) plug(h *host) error {
	peer := h.peer
	steps := [][]string{
		{"netns", "add", h.ns},
		{"link", "add", h.link, "type", "veth", "peer", "name", peer},
		{"link", "set", peer, "netns", h.ns},
		{"link", "set", h.link, "master", b.bridge},
		{"link", "set", h.link, "up"},
	}
	for _, s := range steps {
		if err := ip(s...); err != nil {
			return err
		}
	}
	for _, s := range [][]string{
		{"link", "set", peer, "name", "eth0"},
		{"addr", "add", h.ip + "/24", "dev", "eth0"},
		{"link", "set", "eth0", "up"},
		{"link", "set", "lo", "up"},
		{"addr", "add", imdsAddr + "/32", "dev", "lo"},
	} {
		if err := inNS(h.ns, s...); err != nil {
			return err
		}
	}
	return nil
}

// makeDisk lays out the instance's disk: overlay dirs, /tmp, the image
// (baked venv, pip.conf without an index, systemctl, nvidia-smi for GPU
// types), the boot script and the user data.
func (b *Box) makeDisk(h *host, in instance) error {
	b.mu.Lock()
	img, ok := b.opts.Images[in.ami]
	b.mu.Unlock()
	if !ok {
		img = b.opts.DefaultImage
	}
	fs := filepath.Join(h.disk, "fs")
	for _, d := range []string{"etc", "opt", "home", "usr_local", "var_log", "tmp"} {
		for _, s := range []string{".up", ".wk"} {
			if err := os.MkdirAll(filepath.Join(fs, d+s), 0o755); err != nil {
				return err
			}
		}
	}
	// The merged /tmp takes its mode from the upper dir.
	if err := os.Chmod(filepath.Join(fs, "tmp.up"), 0o1777); err != nil {
		return err
	}
	files := map[string]string{
		"etc.up/pip.conf":            "[global]\nno-index = true\ndisable-pip-version-check = true\n",
		"usr_local.up/bin/systemctl": string(systemctlScript),
	}
	if img.Venv != "" {
		for _, bin := range []string{"python", "python3", "pip", "ray", "serve"} {
			files["opt.up/rayvllm/venv/bin/"+bin] = fmt.Sprintf("#!/bin/sh\nexec %s \"$@\"\n", shellQuote(filepath.Join(img.Venv, "bin", bin)))
		}
	}
	if n, name := b.gpus(b.ctx, in.instanceType); n > 0 {
		var sb strings.Builder
		sb.WriteString("#!/bin/sh\n# ec2box: the GPUs of " + in.instanceType + " (none exist; see the package documentation)\n")
		sb.WriteString("case \"${1:-}\" in\n  -L)\n")
		for i := 0; i < n; i++ {
			fmt.Fprintf(&sb, "    echo %s\n", shellQuote(fmt.Sprintf("GPU %d: %s (UUID: GPU-ec2box-%s-%d)", i, name, in.id, i)))
		}
		sb.WriteString("    ;;\n  *) echo \"nvidia-smi (ec2box): only -L\" >&2; exit 1 ;;\nesac\n")
		files["usr_local.up/bin/nvidia-smi"] = sb.String()
	}
	for p, content := range files {
		full := filepath.Join(fs, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return err
		}
		mode := os.FileMode(0o755)
		if strings.HasSuffix(p, ".conf") {
			mode = 0o644
		}
		if err := os.WriteFile(full, []byte(content), mode); err != nil {
			return err
		}
	}
	if err := os.WriteFile(filepath.Join(h.disk, "boot.sh"), bootScript, 0o700); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(h.disk, "user-data"), []byte(in.userData), 0o700)
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// halt shuts the host down: every process in its namespace, then the
// namespace and veth. The disk stays (a stopped instance may start again;
// the console stays readable).
func (b *Box) halt(h *host, why string) {
	b.mu.Lock()
	if !h.running {
		b.mu.Unlock()
		return
	}
	h.running = false
	srv := h.imds
	b.mu.Unlock()
	if err := removeNS(h.ns, h.link, b.opts.ShutdownGrace); err != nil {
		b.fail(fmt.Errorf("removing %s: %w", h.ns, err))
	}
	if srv != nil {
		_ = srv.Close()
	}
	b.opts.Logf("ec2box %s: %s shut down (%s)", b.run, h.id, why)
}

// Close stops watching, shuts every host down and removes the bridge, the
// namespaces, the forwarders and the work directory.
func (b *Box) Close() error {
	if b.cancel != nil {
		b.cancel()
	}
	b.wg.Wait()
	b.mu.Lock()
	hosts := make([]*host, 0, len(b.hosts))
	for _, h := range b.hosts {
		hosts = append(hosts, h)
	}
	b.mu.Unlock()
	var wg sync.WaitGroup
	for _, h := range hosts {
		wg.Add(1)
		go func() { defer wg.Done(); b.halt(h, "box closed") }()
	}
	wg.Wait()
	var errs []error
	if b.srv != nil {
		errs = append(errs, b.srv.Close())
	}
	if b.fwd != nil {
		_ = b.fwd.Close()
	}
	for _, ns := range b.Namespaces() { // a boot that failed halfway
		errs = append(errs, removeNS(ns, "", time.Second))
	}
	ifs, _ := net.Interfaces()
	for _, i := range ifs {
		if b.run != "" && strings.HasPrefix(i.Name, prefix+b.run) {
			errs = append(errs, ip("link", "del", i.Name))
		}
	}
	if b.subnet != "" {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		_, _ = b.ec2.DeleteSubnet(ctx, &ec2.DeleteSubnetInput{SubnetId: aws.String(b.subnet)})
		_, _ = b.ec2.DeleteVpc(ctx, &ec2.DeleteVpcInput{VpcId: aws.String(b.vpcID)})
		cancel()
	}
	if b.dir != "" {
		errs = append(errs, unmountUnder(b.dir), os.RemoveAll(b.dir))
	}
	return errors.Join(errs...)
}
