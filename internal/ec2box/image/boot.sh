#!/bin/bash
# ec2box: what the instance's "firmware and cloud-init" do. Runs inside the
# instance's network namespace, in the private (slave) mount namespace that
# `ip netns exec` made for it.
#   boot.sh DISK first    mount the disk, run the user data (first boot)
#   boot.sh DISK reboot   mount the disk, start the enabled units
set -eu
disk=$1
# /tmp too: private writes, but the host's files stay visible, so a checkout
# (and its venv or test model) that lives under /tmp still works inside.
shared=${EC2BOX_SHARED:-}
unset EC2BOX_SHARED
if [ -n "$shared" ]; then mkdir -p "$disk/host-tmp" && mount --bind /tmp "$disk/host-tmp"; fi
for d in etc opt home usr/local var/log tmp; do
  n=${d//\//_}
  mount -t overlay overlay -o "lowerdir=/$d,upperdir=$disk/fs/$n.up,workdir=$disk/fs/$n.wk" "/$d"
done
# A checkout under /tmp is the host's own directory, not the overlay's copy.
if [ -n "$shared" ]; then
  mount --bind "$disk/host-tmp/${shared#/tmp/}" "$shared"
  umount "$disk/host-tmp"
fi
echo "ec2box: $EC2BOX_INSTANCE_ID ($EC2BOX_INSTANCE_TYPE) booting, private IP $EC2BOX_PRIVATE_IP"
unset EC2BOX_INSTANCE_ID EC2BOX_INSTANCE_TYPE EC2BOX_PRIVATE_IP
case "${2:-first}" in
  first)
    echo "ec2box: running user data"
    ud=$disk/user-data
    # cloud-init runs gzip-compressed user data after decompressing it.
    if [ "$(head -c2 "$ud" | od -An -tx1 | tr -d ' \n')" = 1f8b ]; then
      gunzip -c <"$ud" >"$disk/user-data.sh"
      ud=$disk/user-data.sh
    fi
    exec /bin/bash "$ud"
    ;;
  reboot)
    # The units the instance enabled (its layer of /etc), not the host's.
    for u in "$disk"/fs/etc.up/systemd/system/multi-user.target.wants/*.service; do
      [ -e "$u" ] || continue
      systemctl start "$(basename "$u")"
    done
    ;;
esac
