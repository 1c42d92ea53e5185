"""
The demo (``./dev.sh demo``): PETS09-S2L1 through player, detector and tracker processes.

Not part of the installed package: it drives the installed executables from the repository.
``run`` is the job, ``fetch`` gets the video, ``report`` writes the pictures and numbers.
"""
