set -Eeuo pipefail
export DEBIAN_FRONTEND=noninteractive
# The boot's own variables carry the LINODE_AI_ prefix, which no project var
# may use: sourcing the env file in a service's subshell cannot change them.
# shellcheck disable=SC2034 # read by load_env and env_names (the sourced helpers)
LINODE_AI_ENV_FILE=@ENV_FILE@
LINODE_AI_NETWORK=@NETWORK@
LINODE_AI_DOMAIN=@DOMAIN@
export LINODE_AI_HTTPS_PORT=@HTTPS_PORT@
@ACME_CA@
# shellcheck source=/dev/null
. @LIB@
trap on_error ERR
