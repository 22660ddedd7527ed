"""drgen: disaster-recovery plans for AI workloads, rendered as Pulumi Python stacks."""

__version__ = "0.1.0"
