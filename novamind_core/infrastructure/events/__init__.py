"""The platform's event bus (the design document's Kafka): topic names, event schemas, a
Kafka-protocol bus (aiokafka) and the in-process bus that is the embedded default."""
