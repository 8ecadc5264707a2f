"""What controls a solve from outside its stages: the work and wall-time budget
(``budget``), the stop token (``stop``) and progress reports (``progress``)."""
