"""What it takes to install the operator: CRDs, RBAC, Deployment. Shared by `make manifests`,
`make build-installer` and the Pulumi stack, so that the three never disagree."""
