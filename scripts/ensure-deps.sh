#!/usr/bin/env bash
# What the tests need from Debian: Chromium (browser and end-to-end tests), faketime (the store
# and widget unit suites once more with the clock a year ahead), redis-server and haproxy (several
# instances behind a load balancer), java (Amazon's DynamoDB Local, for the store's transactions),
# python3 (README's Python agent).
# Finds them, or installs them when running as root on Debian, or stops with a one-line
# instruction. With arguments, only those commands (`npm run cluster` asks for haproxy and
# redis-server); each is its own Debian package but java.
set -euo pipefail

package_of() {
  case $1 in
    java) echo openjdk-17-jre-headless ;;
    *) echo "$1" ;;
  esac
}

need=()
if [ $# -gt 0 ]; then
  commands=("$@")
else
  commands=(faketime redis-server haproxy java python3)
  if [ -z "${CHROME_PATH:-}" ] && ! command -v chromium >/dev/null 2>&1; then need+=(chromium); fi
fi
for command in "${commands[@]}"; do
  # Debian puts haproxy in /usr/sbin, off a normal user's PATH.
  command -v "$command" >/dev/null 2>&1 || [ -x "/usr/sbin/$command" ] || need+=("$(package_of "$command")")
done

[ ${#need[@]} -eq 0 ] && exit 0

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "Installing ${need[*]} from Debian (once)..." >&2
  export DEBIAN_FRONTEND=noninteractive
  # Slim images drop man pages, and the JRE's setup fails without their directory.
  mkdir -p /usr/share/man/man1
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
else
  or_chrome_path=''
  [[ " ${need[*]} " == *' chromium '* ]] && or_chrome_path=' (or set CHROME_PATH for chromium)'
  echo "Missing ${need[*]}: run 'sudo apt-get install -y ${need[*]}'$or_chrome_path, then run this again." >&2
  exit 1
fi
