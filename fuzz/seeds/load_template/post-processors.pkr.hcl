source "null" "basic" {
  communicator = "none"
}

build {
  sources = ["source.null.basic"]

  post-processor "manifest" {
    output     = "output/manifest.json"
    strip_path = true
    strip_time = true
    custom_data = {
      purpose = "corpus"
    }
  }

  post-processor "checksum" {
    checksum_types = ["sha256", "md5"]
    output         = "output/{{.BuildName}}_{{.ChecksumType}}.checksum"
  }

  post-processor "shell-local" {
    inline = ["echo done"]
  }

  post-processors {
    post-processor "manifest" {
      output = "output/chain.json"
    }

    post-processor "shell-local" {
      name                = "after-manifest"
      keep_input_artifact = true
      inline              = ["echo chained"]
    }
  }
}
