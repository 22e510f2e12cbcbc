"""The authorization service: a forward-auth endpoint that answers "may this user open this
workspace?" with a SubjectAccessReview. Runs as `jupyter-k8s-operator authz`."""
