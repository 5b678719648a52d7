"""The Docker engine adapter: the one package that imports the docker SDK (connecting, error
translation, images: inspect, build, pull, push), shared by the builder, the converter and
the kubelet's Docker backend."""
