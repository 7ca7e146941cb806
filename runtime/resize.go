package runtime

func registerResize(r *Registry) {}
