package runtime

func registerVision(r *Registry) {}
