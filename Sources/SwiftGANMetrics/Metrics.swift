// Metrics on feature arrays.
