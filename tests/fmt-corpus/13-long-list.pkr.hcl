locals {
  packages = [
    "apt-transport-https",
      "ca-certificates",
    "curl",
        "gnupg",
    "lsb-release",
    "containerd",
   "socat",
    "conntrack",
    "ebtables",
    "ethtool",
    "ipset",
     "ipvsadm",
    "jq",
    "nfs-common",
  ]
}
