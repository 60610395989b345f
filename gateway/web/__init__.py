"""Server-rendered pages: the operator dashboard and the driver portal (Jinja2, no CDN)."""
