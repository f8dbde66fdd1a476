"""The digital twin: one question — what does the twin say about this patient now? —
answered by fanning out to the three families' served models, joining their answers into
integrated recommendations, with timeouts, retries, circuit breakers, a cache, an event
bus and live updates. It talks to the families only over their served endpoints."""
