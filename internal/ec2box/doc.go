// Package ec2box is test code: "EC2 in a box". It makes the instances that
// moto reports running into real Linux hosts on this machine, so that the
// cluster tests see what rayvllm_inference_cluster launches boot, join Ray
// and serve work. Only tests import it; it needs root (network namespaces,
// mounts) and is never linked into the provider.
//
// What is real:
//   - the instance's own user data, read back from moto
//     (DescribeInstanceAttribute userData) and run with bash as cloud-init
//     would, in AWS mode: IMDSv2, SSM, useradd, the systemd unit it writes;
//   - the network: each instance is a network namespace whose eth0 has the
//     private IP moto assigned, on a veth pair to a bridge that plays the
//     VPC router (its gateway address is the subnet's .1); the VPC and subnet
//     are created in moto with that range; there is no default route, so
//     an instance reaches only the subnet and IMDS (nothing else, never the
//     internet);
//   - IMDSv2 at 169.254.169.254 inside the namespace (token, instance-id,
//     local-ipv4, placement, instance-type, tags, user-data and the instance
//     role's credentials), answered from moto's view of the instance;
//   - SSM and EC2 calls of the instance go to moto (through a forwarder on
//     the gateway address: moto listens on loopback, which a namespace
//     cannot reach);
//   - Ray: the pinned Ray of the image starts from the unit the script
//     installed, with the head's token read from SSM;
//   - the lifecycle: an instance that moto reports stopping, stopped,
//     shutting-down or terminated is shut down (SIGTERM to every process in
//     its namespace, SIGKILL after a grace period) and its namespace and
//     veth are removed; a stopped instance that starts again reboots from
//     its disk (enabled units start, user data does not run again).
//
// What is simulated, and why:
//   - the disk: each instance sees the host's filesystem with private
//     overlays on /etc, /opt, /home, /usr/local, /var/log and /tmp (so
//     useradd, /opt/rayvllm, the unit files and Ray's temp dir stay inside
//     the instance, while a checkout under /tmp stays visible); the rest of
//     the host's filesystem is shared, like a
//     network file system (tests put models and batch input there);
//   - the image: an Image bakes the test venv into /opt/rayvllm/venv (as a
//     custom AMI would, since nothing may be downloaded) and an /etc/pip.conf
//     without an index, so a pin the venv does not have fails the boot as a
//     missing wheel would;
//   - systemd: none runs in a namespace; /usr/local/bin/systemctl of the
//     image starts enabled units as systemd would (clean environment,
//     Environment=, ExecStart=, Restart=on-failure, StandardOutput=append:),
//     but as root: User= is not honoured because the test venv and its
//     Python live under root's home;
//   - GPUs: a GPU instance type (from moto's DescribeInstanceTypes) gets an
//     nvidia-smi that lists its GPUs, and the worker script declares that
//     many to Ray; no CUDA exists;
//   - the console: moto's GetConsoleOutput returns a fixed text, so the
//     box's EC2 endpoint (EC2URL) forwards everything to moto except
//     GetConsoleOutput, which it answers with the instance's real console
//     (what its boot printed), base64 as EC2 does, last 64 KiB;
//   - security groups and the instance role's policy are not enforced.
package ec2box
