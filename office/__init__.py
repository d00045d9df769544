"""The office as staff see it first and as a newcomer tries it: the admin dashboard (it reads
every app), the demo's logins and data, and the benchmark commands."""
