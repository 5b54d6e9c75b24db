"""Plain helpers every app may use (Redis access, safe redirects). Imports no app."""
