"""The ML engine: plain Python, no Django. Given images and settings it returns images, weights and scores.

Modules load their models lazily, once per process, so importing this package stays cheap.
"""
