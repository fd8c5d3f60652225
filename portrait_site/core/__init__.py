"""The leaf layer every app may import and which imports no app: refusals, guarded statuses, private
files, money, rate limits, caching, and what every API endpoint shares."""
