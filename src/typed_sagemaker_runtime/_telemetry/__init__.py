"""What a call reports: OpenTelemetry spans and GenAI metrics, shared by both clients."""
