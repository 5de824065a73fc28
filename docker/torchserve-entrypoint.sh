#!/bin/sh
# Entrypoint of the lorecast TorchServe image (docker/torchserve.Dockerfile).
#
# 1. Joins every *.properties file of $TORCHSERVE_CONFIG_DIR in name order into one config.properties under
#    $TMPDIR (a key set again later wins): the image's or the ConfigMap's 10-cluster.properties, plus what an
#    overlay adds (the gpu overlay's 20-gpu.properties), so that an overlay never copies the whole file.
# 2. Runs TorchServe in the foreground. Its launcher starts java as a child and only waits for it: a SIGTERM to
#    the launcher alone would leave java running until the container is killed mid-request. So the pod's
#    SIGTERM goes to java (the launcher writes its pid to $TMPDIR/.model_server.pid), which shuts down cleanly
#    in a few seconds; the launcher then exits with it.
set -eu

config_dir=${TORCHSERVE_CONFIG_DIR:-/etc/lorecast/torchserve.d}
run_dir=${TMPDIR:-/tmp}
config=$run_dir/config.properties

found=
: >"$config"
for part in "$config_dir"/*.properties; do
    [ -f "$part" ] || continue
    found=1
    cat "$part" >>"$config"
    echo >>"$config"  # a last line without a newline must not merge with the next file's first line
done
if [ -z "$found" ]; then
    echo "error: no *.properties file in $config_dir" >&2
    exit 1
fi

stopping=
stop_java() {
    stopping=1
    java_pid=$(cat "$run_dir/.model_server.pid" 2>/dev/null || true)
    if [ -n "$java_pid" ]; then
        kill -TERM "$java_pid" 2>/dev/null || true
    fi
}
trap stop_java TERM INT

# --ncs: no config snapshots under logs/config (nothing to restore from in a fresh pod).
torchserve --start --foreground --ncs --ts-config "$config" &
launcher=$!

status=0
wait "$launcher" || status=$?
if [ -n "$stopping" ] && kill -0 "$launcher" 2>/dev/null; then
    # The signal cut the first wait short; wait for java's clean shutdown to end the launcher.
    status=0
    wait "$launcher" || status=$?
fi
exit "$status"
