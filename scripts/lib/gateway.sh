# shellcheck shell=bash
# Shared by scripts/postman.sh, scripts/fuzz.sh and scripts/browser-tests.sh (sourced; the
# caller defines `say` and `die`). `gateway_bin` needs python3 and cargo, the others node.

# Sets BIN to the absolute path of the sms-gateway binary: SMS_GATEWAY_BIN when given, else a
# debug build in the workspace's target directory (as cargo reports it, CARGO_TARGET_DIR
# included).
gateway_bin() {
  if [[ -n "${SMS_GATEWAY_BIN:-}" ]]; then
    BIN="$SMS_GATEWAY_BIN"
  else
    say "building sms-gateway (cargo build --bin sms-gateway)"
    cargo build --quiet --bin sms-gateway
    local target_dir
    target_dir="$(cargo metadata --format-version 1 --no-deps |
      python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')"
    BIN="$target_dir/debug/sms-gateway"
  fi
  [[ -x "$BIN" ]] || die "no executable sms-gateway at $BIN"
  BIN="$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")"
}

# N distinct free ports (all held open until each is known, so none is handed out twice).
free_ports() {
  node -e '
    const net = require("net");
    const servers = Array.from({ length: Number(process.argv[1]) }, () => net.createServer());
    Promise.all(servers.map((s) => new Promise((ok) => s.listen(0, "127.0.0.1", ok)))).then(() => {
      console.log(servers.map((s) => s.address().port).join(" "));
      servers.forEach((s) => s.close());
    });' "$1"
}

# A random hex token (an admin token for a gateway started by a script).
random_token() { node -e 'console.log(require("crypto").randomBytes(24).toString("hex"))'; }
