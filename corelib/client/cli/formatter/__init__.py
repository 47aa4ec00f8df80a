"""Output as docker/cli formats it: Go's tabwriter, go-units sizes and durations, Go templates, JSON."""
