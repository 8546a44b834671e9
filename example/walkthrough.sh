#!/usr/bin/env bash
# walkthrough.sh runs the curl walk-through of docs/walkthrough.md against a
# freshly started `go run ./example`, and exits non-zero on the first
# unexpected status. It is self-contained for CI:
#
#   - it starts the example on a free loopback port with APP_ENV=development,
#     the REDIS_URL of the environment (default redis://127.0.0.1:6379/0) and
#     a KEY_PREFIX of its own, so it never touches other keys on a shared Redis;
#   - it waits for GET /healthz to answer 200 (at most WALKTHROUGH_START_TIMEOUT
#     seconds, default 180, which includes compiling);
#   - every curl has a time limit and talks to 127.0.0.1 only;
#   - on exit (success, failure or interrupt) it stops the server with SIGTERM
#     (SIGKILL after 15 s) and deletes its keys with SCAN + UNLINK.
#
# Needs: bash, go, curl, redis-cli. Run from anywhere: example/walkthrough.sh
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379/0}"
export REDIS_URL
start_timeout="${WALKTHROUGH_START_TIMEOUT:-180}"

die() { echo "walkthrough: FAIL: $*" >&2; exit 1; }

for cmd in go curl redis-cli; do
  command -v "$cmd" >/dev/null || die "$cmd is not installed"
done
rcli() { redis-cli -u "$REDIS_URL" --no-auth-warning "$@"; }
[[ "$(rcli PING 2>/dev/null)" == PONG ]] || die "no Redis answers at REDIS_URL"

# A free port: one nothing accepts connections on.
port=""
for _ in $(seq 1 50); do
  p=$((20000 + RANDOM % 20000))
  if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then port=$p; break; fi
done
[[ -n "$port" ]] || die "no free port found"
base="http://127.0.0.1:$port"
prefix="walkthrough:$$:$RANDOM:"
tmp="$(mktemp -d)"
jar="$tmp/jar"
pid=""

cleanup() {
  local rc=$?
  if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM -- "-$pid" 2>/dev/null || true # the server's process group: go run and the program
    for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$pid" 2>/dev/null || true
  fi
  if [[ $rc -ne 0 && -f "$tmp/server.log" ]]; then
    echo "--- server log ---" >&2
    cat "$tmp/server.log" >&2
  fi
  rcli --scan --pattern "${prefix}*" 2>/dev/null | while read -r k; do rcli UNLINK "$k" >/dev/null; done || true
  rm -rf "$tmp"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "walkthrough: starting go run ./example on $base"
set -m # run the server in its own process group, so cleanup can stop go run and its child together
APP_ENV=development PORT="$port" HOST=127.0.0.1 KEY_PREFIX="$prefix" \
  SESSION_SECRET="$(head -c 48 /dev/urandom | base64 | tr -d '\n')" \
  go run ./example >"$tmp/server.log" 2>&1 &
pid=$!
set +m

deadline=$((SECONDS + start_timeout))
until [[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$base/healthz" || true)" == 200 ]]; do
  kill -0 "$pid" 2>/dev/null || die "the example exited before answering"
  ((SECONDS < deadline)) || die "the example did not answer within ${start_timeout}s"
  sleep 0.5
done

# step NAME WANT CURL-ARGS...: runs curl against the server with the cookie
# jar, prints the status and body, and fails unless the status is WANT.
step() {
  local name=$1 want=$2 code
  shift 2
  code="$(curl -sS --max-time 10 -c "$jar" -b "$jar" -o "$tmp/body" -w '%{http_code}' "$@")" || die "$name: curl failed"
  printf '%-28s %s %s\n' "$name" "$code" "$(cat "$tmp/body")"
  [[ "$code" == "$want" ]] || die "$name: status $code, want $want"
}
json=(-H 'Content-Type: application/json')
creds='{"email":"alice@example.com","password":"correct horse battery staple"}'

step "signup"                201 "${json[@]}" -d "$creds" "$base/signup"
step "signup again"          409 "${json[@]}" -d "$creds" "$base/signup"
step "login, wrong password" 401 "${json[@]}" -d '{"email":"alice@example.com","password":"wrong password"}' "$base/login"
step "login"                 200 "${json[@]}" -d "$creds" "$base/login"
step "profile"               200 "$base/profile"
step "sessions"              200 "$base/sessions"
step "logout"                200 -X POST "${json[@]}" "$base/logout"
step "profile after logout"  401 "$base/profile"
left="$(rcli --scan --pattern "${prefix}sess:*")"
echo "redis-cli KEYS '${prefix}sess:*' after logout -> ${left:-(empty)}"
[[ -z "$left" ]] || die "session keys are left after logout: $left"
step "login again"           200 "${json[@]}" -d "$creds" "$base/login"

# A second device (a cookie jar of its own) logs in; "log out other devices"
# from the first ends it and keeps the first logged in.
code="$(curl -sS --max-time 10 -c "$tmp/jar2" -o /dev/null -w '%{http_code}' "${json[@]}" -d "$creds" "$base/login")" || die "second device: curl failed"
[[ "$code" == 200 ]] || die "second device login: status $code, want 200"
step "log out others"        200 -X POST "${json[@]}" "$base/logout-others"
code="$(curl -sS --max-time 10 -b "$tmp/jar2" -o /dev/null -w '%{http_code}' "$base/profile")" || die "second device: curl failed"
printf '%-28s %s\n' "profile, other device" "$code"
[[ "$code" == 401 ]] || die "second device profile: status $code, want 401"
step "profile, this device"  200 "$base/profile"

echo "redis-cli KEYS '${prefix}sess:*'"
keys="$(rcli KEYS "${prefix}sess:*")"
echo "$keys"
# The other device's session left a tombstone (a hash holding only _t, for
# 60 s: a login's write still on its way finds it and writes nothing); the
# live session is the key with a creation time.
key=""
for k in $(grep -v "^${prefix}sess:u:" <<<"$keys"); do
  if [[ "$(rcli HEXISTS "$k" _c)" == 1 ]]; then key="$k"; break; fi
done
[[ -n "$key" ]] || die "no session key under ${prefix}sess:"
ttl="$(rcli TTL "$key")"
echo "redis-cli TTL $key -> $ttl"
[[ "$ttl" =~ ^[0-9]+$ && "$ttl" -gt 0 ]] || die "session key TTL is $ttl, want > 0"
fields="$(rcli HGETALL "$key")"
echo "redis-cli HGETALL $key -> $(grep -c . <<<"$fields") lines"
for f in _c _a _u _f _d; do
  grep -qx "$f" <<<"$fields" || die "session hash has no $f field"
done
! grep -q "alice@example.com" <<<"$fields" || die "the session holds the email"

# The page at / and its security headers.
code="$(curl -sS --max-time 10 -D "$tmp/headers" -o /dev/null -w '%{http_code}' "$base/")" || die "page: curl failed"
echo "page                         $code $(grep -i '^content-security-policy:' "$tmp/headers" | tr -d '\r')"
[[ "$code" == 200 ]] || die "page: status $code, want 200"
grep -qi "^content-security-policy: default-src 'self'" "$tmp/headers" || die "page: no Content-Security-Policy"

# Change the password, then delete the account.
newcreds='{"email":"alice@example.com","password":"a brand new passphrase"}'
step "change password"       200 "${json[@]}" -d '{"current":"correct horse battery staple","new":"a brand new passphrase"}' "$base/password"
step "profile, new session"  200 "$base/profile"
step "login, old password"   401 "${json[@]}" -d "$creds" "$base/login"
step "login, new password"   200 "${json[@]}" -d "$newcreds" "$base/login"
step "delete account"        200 -X DELETE "${json[@]}" -d '{"password":"a brand new passphrase"}' "$base/account"
step "profile after delete"  401 "$base/profile"
step "login after delete"    401 "${json[@]}" -d "$newcreds" "$base/login"
left="$(rcli --scan --pattern "${prefix}app:user:*")"
[[ -z "$left" ]] || die "a user record is left after the account was deleted: $left"
# Of the sessions, only the user's revocation mark is left, for 6 minutes at
# most, and the tombstones of recent logins (a hash holding only _t, for 60 s).
for k in $(rcli --scan --pattern "${prefix}sess:*"); do
  if [[ "$k" != "${prefix}sess:u:"* ]]; then
    [[ "$(rcli HKEYS "$k")" == _t ]] || die "a session key is left after the account was deleted: $k"
    continue
  fi
  [[ "$(rcli ZRANGE "$k" 0 -1)" == revoked ]] || die "the deleted user's index still lists sessions: $k"
  ttl="$(rcli TTL "$k")"
  echo "redis-cli TTL $k -> $ttl (the revocation mark)"
  [[ "$ttl" =~ ^[0-9]+$ && "$ttl" -gt 0 && "$ttl" -le 360 ]] || die "the revocation mark's TTL is $ttl, want 1 to 360"
done
step "signup again"          201 "${json[@]}" -d "$creds" "$base/signup"

echo "walkthrough: OK"
