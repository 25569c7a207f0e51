"""sessiongate: session authentication for APIs on AWS API Gateway."""
