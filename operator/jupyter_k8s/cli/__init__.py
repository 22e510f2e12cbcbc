"""jk: the command line of jupyter-k8s for users (desktop access through the SSH tunnel)."""

# Dex's public client the CLI signs in with (the stack declares it; one name for both sides).
CLIENT_ID = "jupyter-k8s-cli"
