"""The GPU job lifecycle: the queue client (queue), the fair order the workers take jobs in
(scheduling), claiming and fencing attempts (jobs), what a worker does per job (worker), the stages it
records (job_stages), the engine's settings (engine_config), the progress customers see (progress) and
the waits they are told (estimates).
django-q2's entry points stay in avatars.tasks, where the broker's stored names point."""
