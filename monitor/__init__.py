"""review-monitor: watch public review sites and social sources, alert on complaints."""

__version__ = "0.1.0"
