from django.conf import settings


class SecurityHeadersMiddleware:
    """Adds the headers Django does not set itself: Content-Security-Policy and Permissions-Policy."""

    # Upload pages take files, never the camera: no page may ask for sensors.
    PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=()"

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", settings.CONTENT_SECURITY_POLICY)
        response.headers.setdefault("Permissions-Policy", self.PERMISSIONS_POLICY)
        return response
