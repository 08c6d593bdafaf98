"""Running the function with no AWS account: an embedded S3, the state machine in moto.

Needs the development install or the ``local`` extra (moto); the function image leaves it out."""
