"""Start-up check of rayvllm_batch: a job whose engines no node can ever
hold would wait for them until its deadline (Ray Data reports the
unschedulable actors only as a warning). It fails at once instead."""
import os
import pathlib
import sys


class ClusterError(RuntimeError):
    """No node of the Ray cluster, now or from its autoscaler, can hold an engine worker."""


def autoscaler_node_types():
    """{node type: resources} the cluster's autoscaler can add: {} without
    one, None when this process cannot tell. The node groups the GCS holds
    (KubeRay), else the autoscaler of this cluster on this node (Ray's own
    monitor on the head, where the driver runs): its --autoscaling-config
    file; a monitor without one only reports (no node types)."""
    import ray
    import ray._private.state

    try:
        config = ray._private.state.state.get_cluster_config()
    except Exception:  # noqa: BLE001 - an older GCS: look for the monitor
        config = None
    if config and config.node_group_configs:
        return {g.name: dict(g.resources) for g in config.node_group_configs if g.max_count != 0}
    gcs = ray.get_runtime_context().gcs_address
    for cmdline in pathlib.Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().decode(errors="replace").split("\0")
        except OSError:
            continue
        # Other clusters' monitors may share the host: match the GCS.
        if not any(a.endswith("/monitor.py") and "/autoscaler/" in a for a in args) or f"--gcs-address={gcs}" not in args:
            continue
        paths = [a.split("=", 1)[1] for a in args if a.startswith("--autoscaling-config=")]
        if not paths:
            return {}
        import yaml

        with open(os.path.expanduser(paths[0]), encoding="utf-8") as f:
            types = (yaml.safe_load(f) or {}).get("available_node_types") or {}
        return {n: t.get("resources") or {} for n, t in types.items() if t.get("max_workers", 1) != 0}
    return None


def check_cluster(cfg, need):
    """Raises ClusterError naming the attribute when no alive node and no
    node type of the autoscaler has need, what one engine worker needs."""
    import ray

    if not ray.is_initialized():
        ray.init(logging_level="ERROR")
    shapes = {f"node {n['NodeManagerAddress']}": n.get("Resources") or {} for n in ray.nodes() if n.get("Alive")}
    try:
        types = autoscaler_node_types()
    except Exception as e:  # noqa: BLE001 - unreadable: do not refuse what might fit
        print(f"rayvllm_batch note: cannot read the autoscaler's node types ({e}); not checking that an engine fits", file=sys.stderr)
        return
    if types is None:
        print("rayvllm_batch note: cannot tell which nodes the cluster's autoscaler may add; not checking that an engine fits",
              file=sys.stderr)
        return
    shapes.update({f"node type {n}": r for n, r in (types or {}).items()})
    if any(all(r.get(k, 0) >= v for k, v in need.items()) for r in shapes.values()):
        return
    label = next((k for k in need if k.startswith("accelerator_type:")), None)
    if label and not any(label in r for r in shapes.values()):
        offered = sorted({k.split(":", 1)[1] for r in shapes.values() for k in r if k.startswith("accelerator_type:")})
        what = (f"vllm.accelerator_type {cfg['accelerator_type']!r}: no node of the Ray cluster has that accelerator"
                f"{' and no autoscaler node type adds one' if types else ''} (accelerator types here: {', '.join(offered) or 'none'}). "
                "Set accelerator_type to one of them, remove it, or add nodes with that accelerator.")
    else:
        key = "CPU" if cfg.get("accelerator") == "cpu" else "GPU"
        most = max((r.get(key, 0) for r in shapes.values()), default=0)
        attr = "vllm.accelerator = \"cpu\"" if key == "CPU" else "vllm.num_gpus_per_replica / tensor_parallel_size"
        what = (f"one engine worker needs {need.get(key, 0):g} {key} on one node ({attr}{', with accelerator_type ' + repr(cfg['accelerator_type']) if label else ''}); "
                f"the most any node{' or autoscaler node type' if types else ''} of the Ray cluster has is {most:g}. "
                + ("Set vllm.accelerator = \"cpu\" to run on CPUs, or add GPU nodes." if key == "GPU" else "Add nodes with CPUs."))
    raise ClusterError(what + f" Nodes: {'; '.join(f'{n}: {fmt_resources(r)}' for n, r in sorted(shapes.items())) or 'none'}.")


def fmt_resources(r):
    return ", ".join(f"{k} {v:g}" for k, v in sorted(r.items()) if not k.startswith(("node:", "memory", "object_store_memory")))
