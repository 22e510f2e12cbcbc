"""`python -m infra.cli preview|up|destroy|refresh [--stack dev]`: run the stack offline.

Why not `pulumi up` straight away: the Python language host (pulumi-language-python) cannot be
built from the module proxy available here. The Automation API's inline programs do not need
it: the program runs in this Python process, which serves the language runtime to the CLI
(`--client`). Everything else is the real engine with the real Kubernetes provider:
- the CLI and the provider come from hack/tools.py (built by `make tools` before anything runs;
  this module only checks that they exist) and the provider is installed into PULUMI_HOME from
  that file: no plugin is ever downloaded;
- state lives in a file backend (.pulumi-state/), secrets are passphrase-encrypted
  (PULUMI_CONFIG_PASSPHRASE; the dev stack falls back to a documented development passphrase);
- secrets the stack needs and the admin did not choose are generated once and stored,
  encrypted, in Pulumi.<stack>.yaml.
"""

from __future__ import annotations

import argparse
import os
import secrets
import subprocess
import sys
from pathlib import Path

from pulumi import automation as auto

from jupyter_k8s.tls import serving_cert_pem

from .config import GENERATED_SECRETS, NAMESPACE

ROOT = Path(__file__).resolve().parents[1]
DEV_PASSPHRASE = "jupyter-k8s-local-dev"  # protects nothing real: dev stacks only


def _tools(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "hack" / "tools.py"), *args], capture_output=True, text=True
    )


def _paths() -> dict[str, str]:
    absent = _tools("check", "pulumi")
    if absent.returncode != 0:
        raise SystemExit(
            f"the Pulumi CLI and provider are not built ({absent.stdout.strip()}); "
            "run `make tools-pulumi` (the make targets do it for you)"
        )
    out = _tools("paths").stdout
    return dict(line.split("=", 1) for line in out.split())


def environment(stack: str) -> tuple[dict[str, str], Path]:
    """The Pulumi environment for `stack`, and the directory holding the pulumi binary."""
    paths = _paths()
    passphrase = os.environ.get("PULUMI_CONFIG_PASSPHRASE")
    if passphrase is None and not os.environ.get("PULUMI_CONFIG_PASSPHRASE_FILE"):
        if stack != "dev":
            raise SystemExit(f"set PULUMI_CONFIG_PASSPHRASE (or _FILE) for stack {stack!r}")
        passphrase = DEV_PASSPHRASE
    env = {
        "PATH": f"{paths['PULUMI_BIN']}:{os.environ.get('PATH', '')}",
        "PULUMI_HOME": str(ROOT / ".pulumi-home"),
        "PULUMI_BACKEND_URL": os.environ.get(
            "PULUMI_BACKEND_URL", f"file://{ROOT / '.pulumi-state'}"
        ),
        "PULUMI_SKIP_UPDATE_CHECK": "true",
        # Never download a plugin here; an EKS machine may allow it for the aws plugin.
        "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": os.environ.get(
            "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION", "true"
        ),
        "PULUMI_K8S_DELETE_UNREACHABLE": os.environ.get("PULUMI_K8S_DELETE_UNREACHABLE", "false"),
    }
    if passphrase is not None:
        env["PULUMI_CONFIG_PASSPHRASE"] = passphrase
    (ROOT / ".pulumi-state").mkdir(exist_ok=True)
    os.environ.update(env)
    _install_provider(paths)
    return env, Path(paths["PULUMI_BIN"])


def _install_provider(paths: dict[str, str]) -> None:
    version = paths["K8S_PROVIDER_VERSION"]
    home = Path(os.environ["PULUMI_HOME"]) / "plugins" / f"resource-kubernetes-v{version}"
    if (home / "pulumi-resource-kubernetes").exists():
        return
    subprocess.run(
        [
            "pulumi",
            "plugin",
            "install",
            "resource",
            "kubernetes",
            version,
            "--file",
            f"{paths['K8S_PROVIDER_BIN']}/pulumi-resource-kubernetes",
        ],
        check=True,
    )


def stack(name: str) -> auto.Stack:
    from .program import run  # imported late: program imports are heavy

    env, bin_dir = environment(name)
    cli = auto.PulumiCommand(root=str(bin_dir.parent))
    workspace = auto.LocalWorkspace(
        work_dir=str(ROOT),
        program=run,
        env_vars=env,
        pulumi_command=cli,
        secrets_provider="passphrase",
    )
    st = auto.Stack.create_or_select(name, workspace)
    _generate_missing_secrets(st)
    return st


def _generate_missing_secrets(st: auto.Stack) -> None:
    """Secrets the admin did not set are generated once and kept (encrypted) in the stack's
    config file, so later runs reuse them and a second `up` changes nothing."""
    have = st.get_all_config()
    missing = [k for k in GENERATED_SECRETS if f"{NAMESPACE}:{k}" not in have]
    if not missing:
        return
    domain = have.get(f"{NAMESPACE}:domain")
    host = domain.value if domain else "localhost"
    # A private CA for the domain and its subdomains; replace with a real certificate by
    # setting tlsCertificate/tlsKey yourself (pulumi config set --secret).
    ca, cert, key = serving_cert_pem([f"*.{host}", host], ca_name=f"jupyter-k8s dev CA for {host}")
    values = {
        # oauth2-proxy wants 16, 24 or 32 bytes for its cookie secret.
        "oauth2ProxyCookieSecret": secrets.token_urlsafe(24)[:32],
        "oauth2ProxyClientSecret": secrets.token_urlsafe(32),
        "tlsCertificate": (cert + ca).decode(),
        "tlsKey": key.decode(),
        "proxySecretKey": secrets.token_hex(32),
    }
    st.set_all_config(
        {f"{NAMESPACE}:{k}": auto.ConfigValue(values[k], secret=True) for k in missing}
    )
    print(f"generated {', '.join(missing)} (stored encrypted in Pulumi.{st.name}.yaml)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m infra.cli",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("command", choices=["preview", "up", "destroy", "refresh"])
    parser.add_argument("--stack", default=os.environ.get("STACK", "dev"))
    args = parser.parse_args(argv)
    st = stack(args.stack)
    out = {"on_output": print}
    if args.command == "preview":
        result = st.preview(diff=True, **out)  # type: ignore[arg-type]
        print(f"\npreview: {result.change_summary}")
    elif args.command == "up":
        up = st.up(**out)  # type: ignore[arg-type]
        print(f"\nup: {up.summary.result}, {up.summary.resource_changes}")
    elif args.command == "destroy":
        down = st.destroy(**out)  # type: ignore[arg-type]
        print(f"\ndestroy: {down.summary.result}, {down.summary.resource_changes}")
    else:
        st.refresh(**out)  # type: ignore[arg-type]
    return 0


if __name__ == "__main__":
    sys.exit(main())
