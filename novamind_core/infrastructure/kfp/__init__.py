"""The step toolkit of KFP components: one step runner, typed artifact I/O, the local run."""
