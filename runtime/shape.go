package runtime

func registerShapeOps(r *Registry) {}
