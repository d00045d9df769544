"""Notices to members: an outbox written in the event's transaction, delivered after commit by
Celery through a NotificationGateway, each at most once (README, "Notifications")."""
