"""The public address of the site, for links that leave it (messages, printed URLs)."""


def public_url(host: str, port: int) -> str:
    """Where a browser on this machine reaches a server bound to ``host:port``.

    The default of ``SITE_URL``: what `make run` serves (its HOST and PORT). A server bound to
    every interface is reached on the loopback one; an IPv6 address gets its brackets.
    """
    host = host.strip() or "127.0.0.1"
    if host in ("0.0.0.0", "::", "[::]"):
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host.strip('[]')}]"
    return f"http://{host}:{port}"
