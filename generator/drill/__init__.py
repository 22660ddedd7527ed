"""`drgen drill`: the partial restore test, run for real against the deployed stacks.

One module per component kind (models, audit_log, pgvector, dynamodb); the clouds sit behind
`store.ObjectStore` (aws, gcp). Cloud clients come with the `drill` extra and are imported only
when a drill runs.
"""
