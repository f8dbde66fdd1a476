"""KFP pipelines wiring the components."""
