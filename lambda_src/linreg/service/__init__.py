"""The function's work on S3 and Step Functions: events, uploads, runs, the distributed steps."""
