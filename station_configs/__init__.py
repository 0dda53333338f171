"""The station files shipped with labrf, installed as ``labrf.station_configs`` so that a
bare name (``sim_bench.yaml``) finds them from any directory (see ``labrf.shipped``)."""
