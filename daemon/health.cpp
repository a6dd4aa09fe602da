// health endpoints
