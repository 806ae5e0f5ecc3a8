package ec2cluster

import (
	"context"
	"fmt"
	"slices"
)

// Create starts a new cluster: Ray token in SSM, security group, the head,
// then one RunInstances per worker group. save is called with every instance
// as soon as it exists, before any wait, so that a failure leaves state that
// Terraform taints rather than instances it forgets.
func (c *Client) Create(ctx context.Context, spec Spec, token string, save func(*Cluster)) (*Cluster, error) {
	existing, err := c.FindInstances(ctx, spec.Name)
	if err != nil {
		return nil, err
	}
	if len(existing) > 0 {
		return nil, &ExistsError{Name: spec.Name, IDs: ids(existing)}
	}
	vpc, err := c.subnetVPC(ctx, spec.SubnetID)
	if err != nil {
		return nil, err
	}
	for _, s := range spec.SubnetIDs {
		other, err := c.subnetVPC(ctx, s)
		if err != nil {
			return nil, err
		}
		if other != vpc {
			return nil, fmt.Errorf("subnet_ids: subnet %s is in %s, not in subnet_id's VPC %s; the cluster's security group is in one VPC", s, other, vpc)
		}
	}
	roots, err := c.rootDevices(ctx, amis(spec))
	if err != nil {
		return nil, err
	}
	cl := &Cluster{Name: spec.Name, Groups: map[string][]Instance{}, TokenParameter: spec.Boot.RayTokenParameter}
	tokenTags := spec.tags("", "", "ray-token")
	if spec.TokenWriteOnly {
		tokenTags[TagTokenSource] = TokenWriteOnly
	}
	if err := c.PutToken(ctx, cl.TokenParameter, token, tokenTags); err != nil {
		return nil, err
	}
	save(cl)
	if cl.SecurityGroupID, err = c.ensureSecurityGroup(ctx, spec, vpc); err != nil {
		return nil, err
	}
	save(cl)

	if spec.Autoscaled() && spec.HeadIAMInstanceProfile == "" {
		profile, role, err := c.EnsureHeadRole(ctx, spec, cl.SecurityGroupID)
		if role != "" {
			cl.HeadRoleARN = role
			save(cl)
		}
		if err != nil {
			return cl, err
		}
		spec.HeadIAMInstanceProfile, cl.HeadProfileARN = profile, profile
		save(cl)
	}
	if _, _, spot, _ := headLaunches(spec); spot {
		if err := c.EnsureSpotServiceLinkedRole(ctx); err != nil {
			return cl, err
		}
	}
	if spec.Autoscaled() {
		cfg, err := RenderAutoscalerConfig(spec, cl.SecurityGroupID, roots)
		if err != nil {
			return nil, err
		}
		spec.Boot.AutoscalerConfig = string(cfg)
	}
	headUD, err := RenderUserData(RoleHead, spec.Boot)
	if err != nil {
		return nil, err
	}
	heads, err := c.run(ctx, spec, cl.SecurityGroupID, roots[spec.Head.AMI], launch{role: RoleHead, node: spec.Head, count: 1, userData: headUD})
	if err != nil {
		return nil, err
	}
	cl.Head = &heads[0]
	save(cl)
	headIP := cl.Head.PrivateIP
	if headIP == "" {
		running, err := c.WaitRunning(ctx, []string{cl.Head.ID})
		if err != nil {
			return cl, err
		}
		cl.Head = &running[0]
		headIP = cl.Head.PrivateIP
	}

	var ls []launch
	for _, g := range spec.Groups {
		if g.Count == 0 || g.Autoscale != nil {
			continue
		}
		l, err := c.workerLaunch(spec, g, headIP, g.Count)
		if err != nil {
			return cl, err
		}
		ls = append(ls, l)
	}
	workers, launchErr := c.launchAll(ctx, spec, cl.SecurityGroupID, roots, ls)
	for _, w := range workers {
		cl.Groups[w.Group] = append(cl.Groups[w.Group], w)
	}
	save(cl)
	if launchErr != nil {
		return cl, launchErr
	}
	if err := c.terminateStrays(ctx, cl, nil); err != nil {
		return cl, err
	}
	running, err := c.WaitRunning(ctx, cl.InstanceIDs())
	if err != nil {
		return cl, err
	}
	return c.refresh(cl, running), nil
}

// terminateStrays terminates every instance tagged with the cluster that is
// neither in cl nor in doomed (being terminated anyway). Create starts only
// when nothing carries the tag, and Update has just put what should exist
// into cl, so such an instance is a duplicate of one of this run's launches:
// EC2 deduplicates a RunInstances retried with the same ClientToken, but an
// EC2-compatible endpoint that ignores ClientToken (moto) launches again
// when the first answer was lost.
func (c *Client) terminateStrays(ctx context.Context, cl *Cluster, doomed []Instance) error {
	insts, err := c.FindInstances(ctx, cl.Name)
	if err != nil {
		return err
	}
	known := map[string]bool{}
	for _, id := range cl.InstanceIDs() {
		known[id] = true
	}
	for _, i := range doomed {
		known[i.ID] = true
	}
	var strays []string
	for _, i := range insts {
		if !known[i.ID] && i.State != "shutting-down" && !IsAutoscalerInstance(cl.Name, i) {
			strays = append(strays, i.ID)
		}
	}
	if len(strays) == 0 {
		return nil
	}
	if err := c.Terminate(ctx, strays); err != nil {
		return fmt.Errorf("terminating instances %v that carry the cluster tag but were not launched for it (duplicates of a retried launch): %w", strays, err)
	}
	return nil
}

// refresh replaces cl's instances with the newer descriptions in insts.
func (c *Client) refresh(cl *Cluster, insts []Instance) *Cluster {
	byID := map[string]Instance{}
	for _, i := range insts {
		byID[i.ID] = i
	}
	if cl.Head != nil {
		if i, ok := byID[cl.Head.ID]; ok {
			cl.Head = &i
		}
	}
	for g, ws := range cl.Groups {
		for k, w := range ws {
			if i, ok := byID[w.ID]; ok {
				ws[k] = i
			}
		}
		cl.Groups[g] = ws
	}
	return cl
}

// Update reconciles the cluster with spec: it scales groups in place, replaces
// the groups named in replace (and any instance whose type or AMI differs from
// its group's), starts groups that are new, terminates groups that are gone,
// stopped workers and strays, and syncs tags and dashboard ingress.
// removedTags are user tag keys to delete from the cluster's objects.
func (c *Client) Update(ctx context.Context, spec Spec, headID, sgID string, replace map[string]bool, removedTags []string, save func(*Cluster)) (*Cluster, error) {
	cl, err := c.FindCluster(ctx, spec.Name, headID)
	if err != nil {
		return nil, err
	}
	cl.SecurityGroupID, cl.TokenParameter = sgID, spec.Boot.RayTokenParameter
	if cl.Head == nil {
		return nil, fmt.Errorf("the head node of cluster %q is gone; run terraform apply again so that the plan replaces the cluster", spec.Name)
	}
	if err := c.syncIngress(ctx, sgID, spec.DashboardCIDRs); err != nil {
		return nil, err
	}
	if err := c.syncTags(ctx, spec, cl, removedTags); err != nil {
		return nil, err
	}
	roots, err := c.rootDevices(ctx, amis(spec))
	if err != nil {
		return nil, err
	}

	var doomed []Instance
	for _, i := range cl.NotLive {
		if i.State != "shutting-down" && !IsAutoscalerInstance(spec.Name, i) {
			doomed = append(doomed, i)
		}
	}
	wanted := map[string]bool{}
	var ls []launch
	for _, g := range spec.Groups {
		wanted[g.Name] = true
		var keep []Instance
		for _, i := range cl.Groups[g.Name] {
			if replace[g.Name] || !g.launchesType(i.InstanceType) || i.AMI != g.AMI || i.Spot != g.Spot {
				doomed = append(doomed, i)
			} else {
				keep = append(keep, i)
			}
		}
		if g.Autoscale != nil {
			g.Count = 0 // the autoscaler's own workers are in cl.Autoscaled
		}
		if len(keep) > g.Count { // scale down: the newest go first
			doomed = append(doomed, keep[g.Count:]...)
			keep = keep[:g.Count]
		}
		cl.Groups[g.Name] = keep
		if n := g.Count - len(keep); n > 0 {
			l, err := c.workerLaunch(spec, g, cl.Head.PrivateIP, n)
			if err != nil {
				return nil, err
			}
			ls = append(ls, l)
		}
	}
	for name, ws := range cl.Groups {
		if !wanted[name] {
			doomed = append(doomed, ws...)
			delete(cl.Groups, name)
		}
	}
	cl.NotLive = nil

	launched, launchErr := c.launchAll(ctx, spec, sgID, roots, ls)
	for _, w := range launched {
		cl.Groups[w.Group] = append(cl.Groups[w.Group], w)
	}
	save(cl)
	if launchErr != nil {
		return cl, launchErr
	}
	if err := c.Terminate(ctx, ids(doomed)); err != nil {
		return cl, err
	}
	if len(ls) > 0 {
		if err := c.terminateStrays(ctx, cl, doomed); err != nil {
			return cl, err
		}
	}
	running, err := c.WaitRunning(ctx, ids(launched))
	if err != nil {
		return cl, err
	}
	if err := c.WaitTerminated(ctx, ids(doomed)); err != nil {
		return cl, err
	}
	return c.refresh(cl, running), nil
}

// Destroy stops Ray's autoscaler by terminating the head first, then
// terminates every instance tagged with the cluster (the autoscaler's
// workers and strays that never reached state included), waits, then
// deletes the security groups (retrying DependencyViolation while ENIs
// detach) and the token parameter.
func (c *Client) Destroy(ctx context.Context, name, sgID, tokenParameter string) error {
	insts, err := c.FindInstances(ctx, name)
	if err != nil {
		return err
	}
	var heads []string
	for _, i := range insts {
		if i.Role == RoleHead {
			heads = append(heads, i.ID)
		}
	}
	// The head runs the autoscaler, which could launch a worker after the
	// list below was taken; once the head is terminated nothing launches.
	if err := c.Terminate(ctx, heads); err != nil {
		return err
	}
	if err := c.WaitTerminated(ctx, heads); err != nil {
		return err
	}
	if len(heads) > 0 {
		if insts, err = c.FindInstances(ctx, name); err != nil {
			return err
		}
	}
	var live []string
	for _, i := range insts {
		live = append(live, i.ID)
	}
	if err := c.Terminate(ctx, live); err != nil {
		return err
	}
	if err := c.WaitTerminated(ctx, live); err != nil {
		return err
	}
	sgs, err := c.findSecurityGroups(ctx, name)
	if err != nil {
		return err
	}
	if sgID != "" && !slices.Contains(sgs, sgID) {
		sgs = append(sgs, sgID)
	}
	for _, id := range sgs {
		if err := c.deleteSecurityGroup(ctx, id); err != nil {
			return err
		}
	}
	if tokenParameter == "" {
		tokenParameter = TokenParameterName(name)
	}
	return c.DeleteToken(ctx, tokenParameter)
}
