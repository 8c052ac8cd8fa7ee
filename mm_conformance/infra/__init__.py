"""Docker and only Docker: images, containers, deployments, the TLS proxy, redirects, silent listeners, certificates."""
