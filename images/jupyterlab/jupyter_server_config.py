# Jupyter Server settings of the jupyter-k8s JupyterLab image (/etc/jupyter).
c = get_config()  # noqa: F821 - provided by Jupyter's config loader

# Authentication is the proxy's; the server only accepts requests that carry the workspace's
# proxy secret (see jupyter_k8s_auth).
c.ServerApp.identity_provider_class = "jupyter_k8s_auth.ProxyIdentityProvider"
c.IdentityProvider.token = ""
c.PasswordIdentityProvider.hashed_password = ""
# Requests arrive through the proxy under the workspace's own host name.
c.ServerApp.allow_remote_access = True
c.ServerApp.trust_xheaders = True
c.ServerApp.open_browser = False
