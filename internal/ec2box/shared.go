package ec2box

import "time"

// The network-namespace helpers below are shared with internal/kubebox,
// whose pods are network namespaces too.

// IP runs the ip command.
func IP(args ...string) error { return ip(args...) }

// InNamespace runs ip inside the network namespace ns.
func InNamespace(ns string, args ...string) error { return inNS(ns, args...) }

// NamespacePIDs lists the processes whose network namespace is ns.
func NamespacePIDs(ns string) []int { return nsPIDs(ns) }

// RemoveNamespace SIGTERMs the processes in ns, SIGKILLs them after grace,
// and deletes ns and its host-side veth hostLink (when not empty).
func RemoveNamespace(ns, hostLink string, grace time.Duration) error {
	return removeNS(ns, hostLink, grace)
}

// NamespaceExists reports whether the network namespace ns exists.
func NamespaceExists(ns string) bool { return nsExists(ns) }

// ProcessStart is a process's start time (field 22 of /proc/pid/stat), so
// that an owner file's PID that was reused does not pass for its owner.
func ProcessStart(pid int) string { return processStart(pid) }
